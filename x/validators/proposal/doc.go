// Package proposal owns the ABCI++ wiring of the VRF randomness beacon: PrepareProposal
// puts the proposer's VRF proof in front of the block, ProcessProposal rejects blocks whose
// proof is missing, forged or misplaced, and the PreBlocker records the block's randomness
// before any transaction runs. The rules themselves live in the x/validators keeper.
// PrepareProposal also puts each sender's transactions in sequence order, which CometBFT
// 0.38's mempool does not guarantee.
package proposal
