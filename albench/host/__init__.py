"""The plugin host: the pluggy manager that loads built-in and third-party plugins, and the registry of their
components by kind and name."""
