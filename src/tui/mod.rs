//! The terminal: setup and teardown, event loop, keymap, widgets, image loading.
