from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "signin"
    verbose_name = "Sign-in 登录"

    def ready(self):
        from signin import receivers  # noqa: F401  (connects the deactivation receiver)
