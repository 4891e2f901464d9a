package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the claims module; also its store key and module account.
	ModuleName = "claims"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName
)

// Store prefixes. Each collection owns one prefix; never reuse a retired prefix, or old
// state would be decoded as the new type.
var (
	// ParamsKey holds the module Params.
	ParamsKey = collections.NewPrefix(0)
	// NextClaimIDKey is the claim id sequence.
	NextClaimIDKey = collections.NewPrefix(1)
	// ClaimsKey maps id → Claim.
	ClaimsKey = collections.NewPrefix(2)
	// ByDerivationKey indexes (derivation CID, id).
	ByDerivationKey = collections.NewPrefix(3)
	// ByOutputKey indexes (output CID, id).
	ByOutputKey = collections.NewPrefix(4)
	// ByPublisherKey indexes (publisher, id).
	ByPublisherKey = collections.NewPrefix(5)
	// ByValidatorKey indexes (validator, id) for every validator ever assigned to the claim.
	ByValidatorKey = collections.NewPrefix(6)
	// OpenAssignmentsKey indexes (validator, id) while the validator's report is awaited.
	OpenAssignmentsKey = collections.NewPrefix(7)
	// PendingKey holds the ids of PENDING claims (assigned in EndBlock, in id order).
	PendingKey = collections.NewPrefix(8)
	// DeadlinesKey orders (deadline height, id) of open assignments.
	DeadlinesKey = collections.NewPrefix(9)
	// VerifiedKey maps derivation CID → id of the first claim about it that became VALID.
	VerifiedKey = collections.NewPrefix(10)
	// BlockFeesKey maps denom → claim fees paid in the current block, held by the module
	// account until EndBlock forwards them to the fee collector in one transfer (empty
	// between blocks).
	BlockFeesKey = collections.NewPrefix(11)
	// RevealDeadlinesKey orders (reveal deadline height, id) of REVEALING claims.
	RevealDeadlinesKey = collections.NewPrefix(12)
)
