package p2p

import (
	"context"
	"fmt"
	"time"

	cid "github.com/ipfs/go-cid"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// maxRecordClockSkew: records dated further in the future are ignored (not
// relayed), so a builder cannot pre-date claims of freshness.
const maxRecordClockSkew = 10 * time.Minute

// ReceivedRecord is a verified build record seen on the topic.
type ReceivedRecord struct {
	BuildRecord
	// From is the peer that relayed the message to us (not necessarily
	// the builder).
	From peer.ID
	// Trusted is true when the record's builder is in the trusted set.
	Trusted bool
}

// Announce signs r with this node's key (setting Builder to this node and
// Timestamp to now if zero) and broadcasts it on BuildsTopic. It returns the
// signed record. Delivery is best effort, as with any gossip: nodes that join
// later, or whose mesh is still forming, can miss a record, so builders
// should re-announce what they serve (e.g. on start and periodically).
func (n *Node) Announce(ctx context.Context, r BuildRecord) (BuildRecord, error) {
	signed, err := SignRecord(n.host.Peerstore().PrivKey(n.host.ID()), r)
	if err != nil {
		return r, fmt.Errorf("p2p: announce: %w", err)
	}
	data, err := MarshalRecord(signed)
	if err != nil {
		return r, fmt.Errorf("p2p: announce: %w", err)
	}
	if err := n.topic.Publish(ctx, data); err != nil {
		return r, fmt.Errorf("p2p: announce on %s: %w", BuildsTopic, err)
	}
	n.remember(signed, data)
	return signed, nil
}

type announcedRecord struct {
	derivation, output cid.Cid
	data               []byte // the signed record as published
}

// remember keeps a signed record for re-announcing; a newer record for the
// same (derivation, output) replaces the older one.
func (n *Node) remember(r BuildRecord, data []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	kept := n.announced[:0]
	for _, a := range n.announced {
		if !(a.derivation.Equals(r.Derivation) && a.output.Equals(r.Output)) {
			kept = append(kept, a)
		}
	}
	kept = append(kept, announcedRecord{derivation: r.Derivation, output: r.Output, data: data})
	if len(kept) > maxReannounced {
		kept = kept[len(kept)-maxReannounced:]
	}
	n.announced = kept
}

// reannounceLoop re-publishes the remembered records every interval. The
// bytes are the original signed records: receivers see the original
// timestamp, and gossipsub treats each publication as a new message.
func (n *Node) reannounceLoop(interval time.Duration) {
	defer n.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.mu.Lock()
		recs := make([][]byte, len(n.announced))
		for i, a := range n.announced {
			recs[i] = a.data
		}
		n.mu.Unlock()
		for _, data := range recs {
			if err := n.topic.Publish(n.ctx, data); err != nil {
				n.log.Debug("re-announce build record", "err", err)
				break
			}
		}
	}
}

// Subscribe delivers verified build records from other nodes until ctx ends
// or the node closes, then closes the channel. Records with bad signatures
// never arrive: the topic validator rejects them (and gossipsub stops
// relaying them and penalises the sender). Records of builders outside the
// trusted set arrive with Trusted false.
func (n *Node) Subscribe(ctx context.Context) (<-chan ReceivedRecord, error) {
	sub, err := n.topic.Subscribe()
	if err != nil {
		return nil, fmt.Errorf("p2p: subscribe to %s: %w", BuildsTopic, err)
	}
	out := make(chan ReceivedRecord, 16)
	ctx, cancel := context.WithCancel(ctx)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		select {
		case <-n.ctx.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	go func() {
		defer close(out)
		defer sub.Cancel()
		for {
			msg, err := sub.Next(ctx)
			if err != nil {
				return // ctx ended or the topic closed
			}
			if msg.ReceivedFrom == n.host.ID() {
				continue // our own announcement
			}
			// The validator stored the decoded record; no second decode.
			r, ok := msg.ValidatorData.(BuildRecord)
			if !ok {
				continue
			}
			rr := ReceivedRecord{BuildRecord: r, From: msg.ReceivedFrom, Trusted: n.IsTrusted(r.Builder)}
			select {
			case out <- rr:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// validateRecordMsg is the gossipsub validator of BuildsTopic.
func (n *Node) validateRecordMsg(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	r, err := UnmarshalRecord(msg.Data)
	if err != nil {
		n.log.Debug("reject build record", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if err := r.Verify(); err != nil {
		n.log.Debug("reject build record", "from", from, "err", err)
		return pubsub.ValidationReject
	}
	if time.Until(r.Timestamp) > maxRecordClockSkew {
		n.log.Debug("ignore future build record", "from", from, "timestamp", r.Timestamp)
		return pubsub.ValidationIgnore
	}
	msg.ValidatorData = r
	return pubsub.ValidationAccept
}

// TopicPeers lists peers we exchange build records with directly.
func (n *Node) TopicPeers() []peer.ID { return n.topic.ListPeers() }

// Trust adds builders to the trusted set.
func (n *Node) Trust(ids ...peer.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range ids {
		n.trusted[id] = struct{}{}
	}
}

// Untrust removes builders from the trusted set.
func (n *Node) Untrust(ids ...peer.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range ids {
		delete(n.trusted, id)
	}
}

// IsTrusted reports whether id is a trusted builder. A node trusts itself.
func (n *Node) IsTrusted(id peer.ID) bool {
	if id == n.host.ID() {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.trusted[id]
	return ok
}
