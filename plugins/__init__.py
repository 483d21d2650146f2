"""The plugins that ship with arrl, registered exactly like third-party ones."""
