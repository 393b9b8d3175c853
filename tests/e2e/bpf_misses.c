/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bpf_misses.h"

#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROG_NAME_PREFIX "kfree_skb"

static gboolean
is_bpf_prog_fd (const gchar * fd_name)
{
  gchar *path = g_build_filename ("/proc/self/fd", fd_name, NULL);
  gchar *target = g_file_read_link (path, NULL);
  gboolean is_prog = target && strcmp (target, "anon_inode:bpf-prog") == 0;

  g_free (target);
  g_free (path);
  return is_prog;
}

/* recursion_misses of a program named kfree_skb*, else 0. */
static guint64
misses_of (int fd)
{
  struct bpf_prog_info info;
  union bpf_attr attr;

  memset (&info, 0, sizeof (info));
  memset (&attr, 0, sizeof (attr));
  attr.info.bpf_fd = (guint32) fd;
  attr.info.info_len = sizeof (info);
  attr.info.info = (guint64) (guintptr) & info;
  if (syscall (SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof (attr)) < 0)
    return 0;
  if (strncmp (info.name, PROG_NAME_PREFIX, strlen (PROG_NAME_PREFIX)) != 0)
    return 0;
  return info.recursion_misses;
}

guint64
vdm_e2e_kfree_skb_recursion_misses (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const gchar *name;
  guint64 misses = 0;

  while (dir && (name = g_dir_read_name (dir)))
    if (is_bpf_prog_fd (name))
      misses += misses_of (atoi (name));
  if (dir)
    g_dir_close (dir);
  return misses;
}
