"""``python3 -m hmx`` prints the libhmx version."""

from . import version

print(version())
