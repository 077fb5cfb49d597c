/* The names pymemd and its clients share: the bus name, object paths and interfaces, the polkit actions, and the keys of the page figures in every reply (docs/dbus-api.md). */
#pragma once

/* The service and its objects (data/org.pymemd.Monitor1.xml). */
#define PYMEMD_BUS_NAME               "org.pymemd.Monitor1"
#define PYMEMD_MANAGER_PATH           "/org/pymemd/Monitor1"
#define PYMEMD_MANAGER_INTERFACE      "org.pymemd.Monitor1"
#define PYMEMD_PROCESS_INTERFACE      "org.pymemd.Process1"

/* polkit actions (data/org.pymemd.policy). */
#define PYMEMD_ACTION_INSPECT_ALL     "org.pymemd.inspect-all"
#define PYMEMD_ACTION_ATTACH          "org.pymemd.attach"

/* The page figures, bytes (t), as every reply names them: one per field of
 * smaps, and the derived ones. */
#define PYMEMD_KEY_SIZE               "size"
#define PYMEMD_KEY_RSS                "rss"
#define PYMEMD_KEY_PSS                "pss"
#define PYMEMD_KEY_PSS_DIRTY          "pss_dirty"
#define PYMEMD_KEY_PSS_ANON           "pss_anon"
#define PYMEMD_KEY_PSS_FILE           "pss_file"
#define PYMEMD_KEY_PSS_SHMEM          "pss_shmem"
#define PYMEMD_KEY_SHARED_CLEAN       "shared_clean"
#define PYMEMD_KEY_SHARED_DIRTY       "shared_dirty"
#define PYMEMD_KEY_PRIVATE_CLEAN      "private_clean"
#define PYMEMD_KEY_PRIVATE_DIRTY      "private_dirty"
#define PYMEMD_KEY_REFERENCED         "referenced"
#define PYMEMD_KEY_ANONYMOUS          "anonymous"
#define PYMEMD_KEY_LAZY_FREE          "lazy_free"
#define PYMEMD_KEY_ANON_HUGE_PAGES    "anon_huge_pages"
#define PYMEMD_KEY_SWAP               "swap"
#define PYMEMD_KEY_SWAP_PSS           "swap_pss"
#define PYMEMD_KEY_LOCKED             "locked"
#define PYMEMD_KEY_USS                "uss"          /* private_clean + private_dirty */
#define PYMEMD_KEY_SHARED             "shared"       /* rss - uss */

/* A process's identity in every reply. */
#define PYMEMD_KEY_PID                "pid"
#define PYMEMD_KEY_START_TIME         "start_time"
#define PYMEMD_KEY_UID                "uid"
