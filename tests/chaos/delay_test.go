package chaos

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// This kernel has no sch_netem, so `tc netem delay` cannot add latency. The delay is made in
// user space instead: an iptables rule in the host's namespace hands every packet it sends to
// an NFQUEUE, and this test process holds each one for the delay before it lets it go (the
// queue keeps their order). Loss is an iptables statistic match that drops a share of them.
// iptables-legacy, because the kernel's nftables has no queue expression (no nft_queue), while
// the xtables NFQUEUE target is there.

// netfilter netlink constants (linux/netfilter/nfnetlink.h, nfnetlink_queue.h).
const (
	nfnlSubsysQueue   = 3
	nfqnlMsgPacket    = 0
	nfqnlMsgVerdict   = 1
	nfqnlMsgConfig    = 2
	nfqaCfgCmd        = 1
	nfqaCfgParams     = 2
	nfqaCfgQueueMaxle = 3
	nfqaPacketHdr     = 1
	nfqaVerdictHdr    = 2
	nfqnlCfgCmdBind   = 1
	nfqnlCopyMeta     = 1
	nfAccept          = 1
)

// delayer holds the packets of one NFQUEUE for a fixed delay.
type delayer struct {
	fd    int
	queue uint16
	delay time.Duration
	held  chan held
}

type held struct {
	id uint32
	at time.Time
}

// inNetns runs f on a thread that is in the network namespace ns; sockets f opens stay in it.
func inNetns(ns string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so it ends with this goroutine instead of serving others
		// in the wrong namespace.
		return fmt.Errorf("setns back from %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// startDelay delays every packet host h sends by d: an NFQUEUE bound in h's namespace and the
// iptables rule that feeds it (--queue-bypass: if this process is gone, packets pass).
func (n netns) startDelay(h host, queue uint16, d time.Duration) (*delayer, error) {
	q := &delayer{queue: queue, delay: d, held: make(chan held, 1<<16)}
	err := inNetns(n.of(h), func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		q.fd = fd
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	})
	if err != nil {
		return nil, fmt.Errorf("nfqueue socket in %s: %w", h.name, err)
	}
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, 0}
	binary.BigEndian.PutUint16(cmd[2:], unix.AF_INET)
	params := make([]byte, 5)
	params[4] = nfqnlCopyMeta // no payload: only the packet id is needed
	maxlen := binary.BigEndian.AppendUint32(nil, 1<<16)
	if err := q.send(nfqnlMsgConfig, unix.NLM_F_ACK, attr(nfqaCfgCmd, cmd), attr(nfqaCfgParams, params), attr(nfqaCfgQueueMaxle, maxlen)); err != nil {
		unix.Close(q.fd)
		return nil, fmt.Errorf("nfqueue %d bind in %s: %w", queue, h.name, err)
	}
	go q.release()
	go q.read()
	rule := fmt.Sprintf("-A OUTPUT -o eth0 -j NFQUEUE --queue-num %d --queue-bypass", queue)
	if err := iptables(n.of(h), rule); err != nil {
		return nil, err
	}
	return q, nil
}

// addLoss drops a share (percent) of the packets host h sends.
func (n netns) addLoss(h host, percent int) error {
	return iptables(n.of(h), fmt.Sprintf("-I OUTPUT -o eth0 -m statistic --mode random --probability %.2f -j DROP", float64(percent)/100))
}

func iptables(ns, rule string) error {
	argv := enter(ns, append([]string{"iptables-legacy"}, strings.Fields(rule)...)...)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return nil
}

// iptablesUnavailable says why packet delay and loss cannot be added, or "".
func iptablesUnavailable() string {
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		return "no iptables-legacy (Debian package iptables)"
	}
	return ""
}

// read takes packets off the queue and hands their ids to release in arrival order.
func (q *delayer) read() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if err == unix.ENOBUFS || err == unix.EINTR {
			continue // the kernel dropped some queue messages; those packets time out of it
		}
		if err != nil {
			close(q.held)
			return
		}
		now := time.Now()
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != nfnlSubsysQueue<<8|nfqnlMsgPacket || len(m.Data) < 4 {
				continue
			}
			if id, ok := packetID(m.Data[4:]); ok {
				q.held <- held{id: id, at: now}
			}
		}
	}
}

// release lets each packet go once it has been held for the delay.
func (q *delayer) release() {
	for p := range q.held {
		time.Sleep(time.Until(p.at.Add(q.delay)))
		v := make([]byte, 8)
		binary.BigEndian.PutUint32(v, nfAccept)
		binary.BigEndian.PutUint32(v[4:], p.id)
		_ = q.send(nfqnlMsgVerdict, 0, attr(nfqaVerdictHdr, v))
	}
}

// packetID finds NFQA_PACKET_HDR among the attributes of a queued packet message.
func packetID(b []byte) (uint32, bool) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (1<<15 | 1<<14)
		if l < 4 || l > len(b) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(b[4:]), true
		}
		b = b[min(len(b), (l+3)&^3):]
	}
	return 0, false
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	b := make([]byte, 4, 4+len(data)+3)
	binary.NativeEndian.PutUint16(b, uint16(4+len(data)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// send sends one nfqueue message; with NLM_F_ACK it waits for the kernel's answer.
func (q *delayer) send(typ uint16, flags uint16, attrs ...[]byte) error {
	body := []byte{unix.AF_UNSPEC, 0, 0, 0} // nfgenmsg: family, version 0, queue (big endian)
	binary.BigEndian.PutUint16(body[2:], q.queue)
	for _, a := range attrs {
		body = append(body, a...)
	}
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(msg, uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], nfnlSubsysQueue<<8|typ)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|flags)
	msg = append(msg, body...)
	if err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	if flags&unix.NLM_F_ACK == 0 {
		return nil
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(q.fd, buf, 0)
	if err != nil {
		return err
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
	return fmt.Errorf("no netlink ack")
}

// TestPacketDelay: a TCP echo between the control namespace and a host whose packets are
// delayed by 200 ms takes at least 200 ms per round trip (the delay is a hold, so this lower
// bound does not depend on the machine's speed), and data still flows in order.
func TestPacketDelay(t *testing.T) {
	ns := inner(t)
	if why := iptablesUnavailable(); why != "" {
		t.Skip(why)
	}
	l, err := net.Listen("tcp", ctlIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	h := hosts[5]
	if _, err := ns.startDelay(h, 7, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	if err := inNetns(ns.of(h), func() (err error) {
		c, err = net.DialTimeout("tcp", l.Addr().String(), time.Minute)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 5)
	for i := 0; i < 3; i++ {
		start := time.Now()
		msg := fmt.Sprintf("ping%d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		if string(buf) != msg {
			t.Fatalf("echo %q, sent %q", buf, msg)
		}
		if rtt < 200*time.Millisecond {
			t.Fatalf("round trip %s through a 200 ms delay", rtt)
		}
		t.Logf("round trip %d: %s", i, rtt)
	}
}
