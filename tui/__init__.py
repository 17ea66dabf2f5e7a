"""obsview's console: a Textual dashboard connected to an agent over one websocket."""
