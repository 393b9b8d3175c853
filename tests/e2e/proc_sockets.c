/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "proc_sockets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel_test_util.h"
#include "udp_proc.h"

/* Socket inodes among pid's descriptors, and the descriptor of each. */
static GHashTable *
socket_fds (pid_t pid)
{
  GHashTable *fds = g_hash_table_new (g_direct_hash, g_direct_equal);
  gchar *dir_path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  GDir *dir = g_dir_open (dir_path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (dir_path, name, NULL);
    gchar *target = g_file_read_link (path, NULL);
    gulong inode;

    if (target && sscanf (target, "socket:[%lu]", &inode) == 1)
      g_hash_table_insert (fds, GSIZE_TO_POINTER (inode), GINT_TO_POINTER (atoi (name)));
    g_free (target);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_free (dir_path);
  return fds;
}

typedef struct
{
  GHashTable *fds;
  GArray *found;
} Collect;

static bool
collect_if_held (const struct vdm_udp_proc_entry *entry, void *user_data)
{
  Collect *c = user_data;

  if (g_hash_table_contains (c->fds, GSIZE_TO_POINTER (entry->inode))) {
    VdmE2eProcSocket s = {.port = entry->local_port,.inode = entry->inode,
      .drops = entry->drops
    };
    g_array_append_val (c->found, s);
  }
  return true;
}

static gint
by_port (gconstpointer a, gconstpointer b)
{
  return (gint) ((const VdmE2eProcSocket *) a)->port
      - (gint) ((const VdmE2eProcSocket *) b)->port;
}

GArray *
vdm_e2e_proc_udp_sockets (pid_t pid)
{
  Collect c = {.fds = socket_fds (pid),
    .found = g_array_new (FALSE, FALSE, sizeof (VdmE2eProcSocket))
  };
  int err = vdm_udp_proc_foreach (collect_if_held, &c);

  g_hash_table_unref (c.fds);
  if (err < 0)
    vdm_kt_fatal ("cannot read /proc/net/udp: %s", g_strerror (-err));
  g_array_sort (c.found, by_port);
  return c.found;
}

gboolean
vdm_e2e_proc_rtp_socket (pid_t pid, VdmE2eProcSocket * out)
{
  GArray *sockets = vdm_e2e_proc_udp_sockets (pid);
  gboolean found = FALSE;
  guint i;

  for (i = 0; !found && i + 1 < sockets->len; i++) {
    const VdmE2eProcSocket *s = &g_array_index (sockets, VdmE2eProcSocket, i);
    if (s->port % 2 == 0 && g_array_index (sockets, VdmE2eProcSocket, i + 1).port == s->port + 1) {
      *out = *s;
      found = TRUE;
    }
  }
  g_array_unref (sockets);
  return found;
}

guint64
vdm_e2e_proc_socket_drops (pid_t pid, gulong inode)
{
  uint64_t drops = 0;
  int err = vdm_udp_proc_drops_by_inode (inode, &drops);

  if (err < 0)
    vdm_kt_fatal ("cannot read the drop counter of socket %lu of process %d: %s", inode,
        (int) pid, g_strerror (-err));
  return drops;
}

int
vdm_e2e_proc_set_rcvbuf (pid_t pid, gulong inode, int bytes)
{
  GHashTable *fds = socket_fds (pid);
  gpointer target_fd;
  int pidfd, fd, effective = 0;
  socklen_t len = sizeof (effective);

  if (!g_hash_table_lookup_extended (fds, GSIZE_TO_POINTER (inode), NULL, &target_fd))
    vdm_kt_fatal ("process %d no longer holds socket %lu", (int) pid, inode);
  g_hash_table_unref (fds);
  pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  fd = pidfd < 0 ? -1 : (int) syscall (SYS_pidfd_getfd, pidfd, GPOINTER_TO_INT (target_fd), 0);
  if (fd < 0)
    vdm_kt_skip_or_fail ("cannot reach the socket of process %d (pidfd_getfd): %s", (int) pid,
        g_strerror (errno));
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof (bytes)) < 0
      || getsockopt (fd, SOL_SOCKET, SO_RCVBUF, &effective, &len) < 0)
    vdm_kt_fatal ("cannot set SO_RCVBUF on socket %lu of process %d: %s", inode, (int) pid,
        g_strerror (errno));
  close (fd);
  close (pidfd);
  return effective;
}
