"""Widgets every screen uses: titled boxes, the key bar, dialogs, sparklines."""
