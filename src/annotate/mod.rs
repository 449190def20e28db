//! The annotation session as plain logic (queue, current item, answer, undo, progress), free of the terminal so tests drive it directly.
