# Saves what the X server at $DISPLAY shows, its whole root window, as a PNG
# (argv[1]): the screenshot test-applet keeps. GDK 3 reads the screen
# itself, so no other tool (xwd, ImageMagick) is needed.
import sys

import gi

gi.require_version("Gdk", "3.0")
from gi.repository import Gdk  # noqa: E402

if not Gdk.init_check(sys.argv[:1])[0]:
    sys.exit("screenshot: cannot open the display")
root = Gdk.get_default_root_window()
pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
if pixbuf is None:
    sys.exit("screenshot: cannot read the screen")
pixbuf.savev(sys.argv[1], "png", [], [])
print(pixbuf.get_width(), pixbuf.get_height())
