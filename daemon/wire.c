/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Room for a few fds, so a frame with too many is seen (and its fds closed)
 * instead of silently truncated. */
#define MAX_FDS_SEEN 8

int
vdm_wire_send_frame (int sock, const uint8_t *frame, size_t len, int pass_fd)
{
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = (void *) frame, .iov_len = len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
  ssize_t n;

  if (pass_fd >= 0) {
    struct cmsghdr *cm;
    memset (&control, 0, sizeof (control));
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof (control.buf);
    cm = CMSG_FIRSTHDR (&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN (sizeof (int));
    memcpy (CMSG_DATA (cm), &pass_fd, sizeof (int));
  }
  do
    n = sendmsg (sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return (size_t) n == len ? 0 : -EIO;
}

int
vdm_wire_send (int sock, const vdm_msg *msg, int pass_fd)
{
  static __thread uint8_t frame[VDM_PROTO_MAX_FRAME];
  int len = vdm_proto_encode (msg, frame, sizeof (frame));

  if (len < 0)
    return len;
  return vdm_wire_send_frame (sock, frame, (size_t) len, pass_fd);
}

static void
close_received_fds (struct msghdr *mh, int keep_first, int *first)
{
  struct cmsghdr *cm;

  *first = -1;
  for (cm = CMSG_FIRSTHDR (mh); cm; cm = CMSG_NXTHDR (mh, cm)) {
    size_t n, i;
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    n = (cm->cmsg_len - CMSG_LEN (0)) / sizeof (int);
    for (i = 0; i < n; i++) {
      int fd;
      memcpy (&fd, CMSG_DATA (cm) + i * sizeof (int), sizeof (int));
      if (keep_first && *first < 0)
        *first = fd;
      else
        close (fd);
    }
  }
}

static int
count_received_fds (struct msghdr *mh)
{
  struct cmsghdr *cm;
  int count = 0;

  for (cm = CMSG_FIRSTHDR (mh); cm; cm = CMSG_NXTHDR (mh, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
      count += (int) ((cm->cmsg_len - CMSG_LEN (0)) / sizeof (int));
  return count;
}

int
vdm_wire_recv (int sock, uint8_t *buf, int *received_fd)
{
  union {
    char buf[CMSG_SPACE (sizeof (int) * MAX_FDS_SEEN)];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = buf, .iov_len = VDM_PROTO_MAX_FRAME };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
    .msg_controllen = sizeof (control.buf) };
  ssize_t n;
  int fds;

  *received_fd = -1;
  do
    n = recvmsg (sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  fds = count_received_fds (&mh);
  if (n > VDM_PROTO_MAX_FRAME || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || fds > 1) {
    close_received_fds (&mh, 0, received_fd);
    return -EMSGSIZE;
  }
  close_received_fds (&mh, 1, received_fd);
  return (int) n;
}

int
vdm_wire_connect (const char *path, int nonblocking)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int sock, err;

  if (strlen (path) >= sizeof (addr.sun_path))
    return -ENAMETOOLONG;
  strcpy (addr.sun_path, path);
  sock = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (sock < 0)
    return -errno;
  if (connect (sock, (struct sockaddr *) &addr, sizeof (addr)) < 0) {
    err = -errno;
    close (sock);
    return err;
  }
  return sock;
}
