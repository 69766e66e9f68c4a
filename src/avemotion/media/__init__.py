"""Reading and writing audio and video files."""
