from django.db import migrations


def load_reference_data(apps, schema_editor):
    from volunteers.reference import reference_data_load

    reference_data_load(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0001_initial"),
        ("incidents", "0001_initial"),
        ("dispatch", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(load_reference_data, migrations.RunPython.noop)]
