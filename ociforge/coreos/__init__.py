"""CoreOS and OpenShift documents that are not OCI: Ignition, MachineConfigs, release payloads."""
