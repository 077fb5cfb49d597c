/* Test helper: a C program embedding libpython (like gdb or Blender); its executable is not named python. */
#include <Python.h>

int
main (int argc, char **argv)
{
  Py_Initialize ();
  /* Say ready from inside the interpreter, then wait for stdin to close. */
  PyRun_SimpleString ("import sys\nprint('ready', flush=True)\nsys.stdin.read()\n");
  Py_Finalize ();
  return 0;
}
