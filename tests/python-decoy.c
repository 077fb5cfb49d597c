/* Test helper: a program that merely looks Python-ish (it defines a few Py_* functions and refers to the interpreter's state weakly) and must never be taken for an interpreter. */
#include <stdio.h>
#include <unistd.h>

/* What a plugin host or a shim might define: entry points, no interpreter. */
const char *Py_GetVersion (void);
void Py_Initialize (void);
void Py_InitializeEx (int initsigs);
void *PyEval_SaveThread (void);

const char *
Py_GetVersion (void)
{
  return "2.7.18 (decoy)";
}

void
Py_Initialize (void)
{
}

void
Py_InitializeEx (int initsigs)
{
  (void) initsigs;
}

void *
PyEval_SaveThread (void)
{
  return NULL;
}

/* Imported, never defined here: what a program linked against libpython
 * carries in its dynamic symbols. */
extern void *_PyThreadState_Current __attribute__ ((weak));
extern char _PyRuntime[] __attribute__ ((weak));

int
main (void)
{
  char c;

  printf ("ready %s %d\n", Py_GetVersion (), &_PyThreadState_Current != NULL || _PyRuntime != NULL);
  fflush (stdout);
  while (read (0, &c, 1) > 0)
    ;
  return 0;
}
