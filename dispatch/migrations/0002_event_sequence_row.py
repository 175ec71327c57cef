from django.db import migrations


def create_sequence_row(apps, schema_editor):
    apps.get_model("dispatch", "EventSequence").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0001_initial")]

    operations = [migrations.RunPython(create_sequence_row, migrations.RunPython.noop)]
