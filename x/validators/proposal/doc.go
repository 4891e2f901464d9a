// Package proposal owns the ABCI++ wiring of the VRF randomness beacon: PrepareProposal
// puts the proposer's VRF proof in front of the block as a standard SDK transaction holding
// one MsgBeacon (no signature, no fee; every transaction of every block decodes with the
// standard Cosmos tx decoder and succeeds), ProcessProposal rejects blocks whose proof is
// missing, forged, misplaced or not in canonical form, and the PreBlocker records the block's
// randomness before any transaction runs. AnteHandler and Mempool keep anyone but the
// proposer from sending a beacon: CheckTx and simulation refuse it, and in FinalizeBlock it
// skips the fee and signature checks ProcessProposal replaced. The rules themselves live in
// the x/validators keeper (x/validators/keeper/beacon.go).
//
// Why a transaction and not vote extensions: the beacon is one proof by the block's proposer
// over the previous randomness and the height, needed before the block's own transactions
// run. Vote extensions carry every validator's data for the next height and still reach the
// application only through the next proposal (by convention as an opaque first "tx", the very
// thing that made clients choke), so they would change the randomness design without making
// blocks any more decodable.
// PrepareProposal also puts each sender's transactions in sequence order, which CometBFT
// 0.38's mempool does not guarantee.
package proposal
