package keeper_test

import "github.com/buildchain/buildchain/x/claims/keeper"

func keeperQueues(e *env) (string, bool) { return keeper.QueuesInvariant(e.Claims)(e.Ctx) }

func eventTypes(e *env) []string {
	var out []string
	for _, ev := range e.Ctx.EventManager().Events() {
		out = append(out, ev.Type)
	}
	return out
}
