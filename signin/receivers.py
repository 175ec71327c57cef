"""A member deactivated anywhere — the admin's user form, a script, the shell — is signed
out everywhere (signin.services.sign_ins_revoke). A receiver, not a service call, on
purpose: users are deactivated in django.contrib.auth's own admin, which calls no service
of ours, and this is an invariant of the user row rather than a step of a flow. (Their
token and session already stop working while inactive; deleting them keeps a later
reactivation from bringing old phones back.)"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from django.dispatch import receiver

from signin.services import sign_ins_revoke


@receiver(post_save, sender=get_user_model(), dispatch_uid="signin.revoke_on_deactivation")
def revoke_on_deactivation(sender, instance, created, update_fields=None, **kwargs):
    if instance.is_active or created:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    sign_ins_revoke(users=[instance])
