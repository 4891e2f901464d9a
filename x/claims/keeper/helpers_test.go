package keeper_test

import "github.com/buildchain/buildchain/x/claims/keeper"

func keeperQueues(e *env) (string, bool) { return keeper.QueuesInvariant(e.Claims)(e.Ctx) }
