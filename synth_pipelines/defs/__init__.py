"""The dg defs folder: `datasets/<name>/defs.yaml`, one SyntheticDataset component per dataset, and the
resources every dataset shares (resources.py)."""
