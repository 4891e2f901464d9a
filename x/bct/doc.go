// Package bct owns the BCT token economics (docs/ARCHITECTURE.md §Economics): payment periods with a fixed inflation
// minted at each period's end, the development fund's share, rewards to build validators in
// proportion to their rewardable build time (u_a of each finished validation, normalized by
// each validator's efficiency factor), the efficiency moving average, the split of slashes
// between exposers and the burn, and the supply accounting (every buildchain burn goes
// through it). The pure arithmetic lives in x/bct/economics.
package bct
