from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventKey",
            fields=[
                ("message_id", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("timestamp", models.DateTimeField()),
            ],
        ),
    ]
