/* Test helper: a non-Python program that maps the file named on its command line, says "ready", and waits. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  char buf[16];
  void *p;
  int fd;

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s FILE\n", argv[0]);
      return 2;
    }
  fd = open (argv[1], O_RDONLY);
  if (fd < 0)
    {
      perror (argv[1]);
      return 1;
    }
  p = mmap (NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED)
    {
      perror ("mmap");
      return 1;
    }
  (void) *(volatile const char *) p;
  printf ("ready\n");
  fflush (stdout);
  /* Exit when the test closes our stdin. */
  while (read (0, buf, sizeof buf) > 0)
    ;
  return 0;
}
