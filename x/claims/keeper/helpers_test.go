package keeper_test

import (
	"cosmossdk.io/collections"

	"github.com/buildchain/buildchain/x/claims/keeper"
)

func keeperQueues(e *env) (string, bool) { return keeper.QueuesInvariant(e.Claims)(e.Ctx) }

func eventTypes(e *env) []string {
	var out []string
	for _, ev := range e.Ctx.EventManager().Events() {
		out = append(out, ev.Type)
	}
	return out
}

func collJoin(h int64, id uint64) collections.Pair[int64, uint64] { return collections.Join(h, id) }
