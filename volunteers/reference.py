"""Reference data every installation starts with: the city's townships, the skills
the associations register, and the roles. Loaded by migrations (so a fresh database can
import a roster at once) and reused by seed_demo.

Township seats are approximate positions of the demo city (Xinzheng, Henan): the seat
near 34.40 N, 113.74 E and 龙湖 in the north near 34.61 N, 113.68 E (DESIGN.md §1).
"""

TOWNSHIPS = [
    # (name, English name, kind, latitude, longitude)
    ("新建路街道", "Xinjianlu Subdistrict", "subdistrict", 34.397, 113.739),
    ("新华路街道", "Xinhualu Subdistrict", "subdistrict", 34.404, 113.748),
    ("新烟街道", "Xinyan Subdistrict", "subdistrict", 34.418, 113.727),
    ("新村镇", "Xincun Town", "town", 34.455, 113.645),
    ("辛店镇", "Xindian Town", "town", 34.338, 113.588),
    ("观音寺镇", "Guanyinsi Town", "town", 34.312, 113.812),
    ("梨河镇", "Lihe Town", "town", 34.335, 113.842),
    ("和庄镇", "Hezhuang Town", "town", 34.452, 113.806),
    ("薛店镇", "Xuedian Town", "town", 34.528, 113.792),
    ("孟庄镇", "Mengzhuang Town", "town", 34.508, 113.742),
    ("郭店镇", "Guodian Town", "town", 34.566, 113.721),
    ("龙湖镇", "Longhu Town", "town", 34.610, 113.680),
    ("城关乡", "Chengguan Township", "township", 34.378, 113.702),
    ("大马乡", "Dama Township", "township", 34.362, 113.781),
    ("岗李乡", "Gangli Township", "township", 34.281, 113.698),
]

SKILLS = [
    # (code, Chinese name, English name)
    ("rescue", "救援", "Rescue"),
    ("water_rescue", "水域救援", "Water rescue"),
    ("boat_operator", "舟艇驾驶", "Boat operator"),
    ("first_aid", "急救", "First aid"),
    ("medical", "医护", "Medical staff"),
    ("sampling", "核酸采样", "Swab sampling"),
    ("driver", "驾驶员", "Driver"),
    ("logistics", "后勤保障", "Logistics"),
    ("order_keeping", "秩序维护", "Order keeping"),
    ("registration", "信息登记", "Registration"),
    ("psych_support", "心理疏导", "Psychological support"),
    ("translation", "翻译", "Interpreting"),
]


def reference_data_load(apps) -> None:
    """Create or refresh the townships, skills and role groups. Idempotent.

    `apps` is a migration's historical registry, or django.apps.apps (tests reload the
    data after a transactional test has flushed the tables).
    """
    from django.contrib.auth.management import create_permissions

    from volunteers.roles import ROLE_PERMISSIONS

    Township = apps.get_model("volunteers", "Township")
    Skill = apps.get_model("volunteers", "Skill")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    for name, name_en, kind, latitude, longitude in TOWNSHIPS:
        Township.objects.update_or_create(
            name=name,
            defaults={
                "name_en": name_en,
                "kind": kind,
                "latitude": latitude,
                "longitude": longitude,
            },
        )
    for code, name_zh, name_en in SKILLS:
        Skill.objects.update_or_create(code=code, defaults={"name_zh": name_zh, "name_en": name_en})

    # Permissions are normally created after all migrations ran; the roles need them now.
    for app_config in apps.get_app_configs():
        had_models_module = getattr(app_config, "models_module", None)
        app_config.models_module = had_models_module or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = had_models_module
    for role, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in permissions
            ]
        )
