import PluginAPI

@_cdecl("recsys_plugin_entry")
public func recsysPluginEntry() -> UnsafeRawPointer { PluginExport.register(TwoTowerModel.self) }
