"""The shipped playbooks (*.yaml) and statement templates (templates/*.j2), installed with yingji as package data."""
