import SidecarApp

// Flags and config file are SidecarCommand's; the running sidecar is SidecarProcess's.
SidecarCommand.main()
