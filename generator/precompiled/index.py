"""Fingerprints of the precompiled templates (see __init__); generated, do not edit."""

JINJA = "3.1.6"  # the Jinja version that generated them
FINGERPRINTS = {
    "macros.j2": "e80e23d8db5fc0dfb5cc0826cc7477f819ad249cf1e94511af5bb047c2cf4127",
    "rules.yml.j2": "3145bff466f8dbf054d4c278dcbc1121e0fbcd0b298ab153a3fbb899172a0f3d",
    "rules_absence.yml.j2": "5a7b80898835a48af5047ac19efee57b515467c3cbc58516d0c5f6a7882b87f6",
    "rules_capacity.yml.j2": "17c3de2a66deed4fa71802360404fc36f1c86812b78dded66c26202f4886545d",
    "rules_freshness.yml.j2": "585fc7d9c7101e645e7b0165b619577e682ae34a2ccc4c56fd7aee49758110ae",
    "rules_slo.yml.j2": "f83b3c68207287724e37a857f0e6e8cec87bdbecf22aeae23f4d32f8f5ffa5fc",
    "rules_thresholds.yml.j2": "81376cc19cb10fd1508206a7e6df9ecad64e1d0228c2a89a8192a74b82c770ac",
    "tests.yml.j2": "e3608cfe8dc6785641710de72b47999db7ef69cfe8809947ece641e440b7c2c9",
}
