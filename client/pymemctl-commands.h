/* The subcommands of pymemctl other than top: each parses its own arguments (ARGV[0] is its name), connects, and returns the exit code. */
#pragma once

G_BEGIN_DECLS

int pymemctl_list (int argc, char **argv);
int pymemctl_show (int argc, char **argv);
int pymemctl_history (int argc, char **argv);
int pymemctl_heap (int argc, char **argv);
int pymemctl_watch (int argc, char **argv);
int pymemctl_status (int argc, char **argv);
int pymemctl_export (int argc, char **argv);

G_END_DECLS
