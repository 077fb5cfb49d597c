/* What each D-Bus method needs of its caller, in one table, and the one gate every method call passes on its way to its handler. */
#pragma once

#include <gio/gio.h>

#include "pymemd-auth.h"

G_BEGIN_DECLS

/* What a method needs before its handler runs. Whatever the need, a
 * method's arguments are checked first: bad input is refused before
 * anyone (polkit) is asked anything. */
typedef enum {
  PYMEMD_NEED_NOTHING,      /* any caller, not even looked up */
  PYMEMD_NEED_BUDGET,       /* the caller's uid has calls of the method left in its
                             * budget a minute ([limits]) */
  PYMEMD_NEED_VIEWER,       /* what the caller sees of the processes now (the viewer rule);
                             * org.pymemd.inspect-all asked only when it would show more */
  PYMEMD_NEED_VIEWER_ASKED, /* the same, org.pymemd.inspect-all asked in any case: the
                             * answer covers processes that start later */
  PYMEMD_NEED_SEE_TARGET,   /* the caller sees the target process in detail: the user
                             * ptrace would let in, root, or org.pymemd.inspect-all */
  PYMEMD_NEED_SEE_RECORD,   /* the same for the process a history answer is about,
                             * decided once the answer is read (its owner is in it) */
  PYMEMD_NEED_ATTACH,       /* the caller may look into the target: its owner under
                             * [access] attach=own, root, or org.pymemd.attach */
} PymemdNeed;

typedef struct {
  const char *interface;
  const char *method;
  PymemdNeed  need;
} PymemdMethodAccess;

/* Every method of org.pymemd.Monitor1 and org.pymemd.Process1. */
extern const PymemdMethodAccess pymemd_method_access_table[];
extern const guint              pymemd_method_access_table_length;

/* ENTRY for METHOD of INTERFACE in TABLE, or NULL. */
const PymemdMethodAccess *pymemd_method_access_lookup (const PymemdMethodAccess *table,
                                                       guint                     length,
                                                       const char               *interface,
                                                       const char               *method);

/* One method call held at the gate. */
typedef struct _PymemdMethodCall PymemdMethodCall;

/* Decides CALL's need: ends with pymemd_method_call_grant () or
 * pymemd_method_call_refuse (), at once or later (off the main loop's
 * way: polkit answers asynchronously). */
typedef void (*PymemdAuthorizeFunc) (PymemdMethodCall *call,
                                     gpointer          user_data);

typedef struct {
  const PymemdMethodAccess *table;
  guint                     length;
  PymemdAuthorizeFunc       authorize;
  gpointer                  user_data;
} PymemdMethodGate;

/* For the class_init of a subclass of a generated skeleton: each method
 * call on one of its instances passes the gate set with
 * pymemd_method_gate_set () before the generated code emits its
 * handle-* signal. */
void pymemd_method_gate_hook_class (GDBusInterfaceSkeletonClass *klass);
/* GATE must outlive SKELETON. */
void pymemd_method_gate_set        (GDBusInterfaceSkeleton *skeleton,
                                    const PymemdMethodGate *gate);

/* The gate: a method with no entry in GATE's table is refused (fail
 * closed); one that needs nothing goes to HANDLER at once; any other to
 * GATE's authorize function first. HANDLER (the generated skeleton's
 * method call, on SKELETON) takes INVOCATION over. */
void pymemd_method_gate_dispatch (const PymemdMethodGate       *gate,
                                  GDBusMethodInvocation        *invocation,
                                  GDBusInterfaceMethodCallFunc  handler,
                                  GDBusInterfaceSkeleton       *skeleton);

PymemdNeed              pymemd_method_call_get_need       (PymemdMethodCall *call);
GDBusMethodInvocation  *pymemd_method_call_get_invocation (PymemdMethodCall *call);
GDBusInterfaceSkeleton *pymemd_method_call_get_skeleton   (PymemdMethodCall *call);
/* Lets CALL through to its handler, VIEWER (or NULL) the caller as decided. */
void                    pymemd_method_call_grant          (PymemdMethodCall   *call,
                                                           const PymemdViewer *viewer);
/* Answers CALL with ERROR; its handler never runs. */
void                    pymemd_method_call_refuse         (PymemdMethodCall *call,
                                                           const GError     *error);

/* The caller as the gate decided it, for the handler of INVOCATION; NULL
 * for a method that needs nothing. */
const PymemdViewer *pymemd_method_access_get_viewer (GDBusMethodInvocation *invocation);

G_END_DECLS
