"""The Textual terminal UI: the app, its screens and widgets; it reads everything through `falcotui.ops`."""
