import gi
gi.require_version("Gtk", "3.0")
from gi.repository import Gtk
w = Gtk.Window(title="pymemd fixture")
box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
box.add(Gtk.Label(label="Hello from pymemd fixture"))
box.add(Gtk.Button(label="Button"))
box.add(Gtk.Entry())
w.add(box)
w.connect("destroy", Gtk.main_quit)
w.show_all()
Gtk.main()
