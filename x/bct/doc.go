// Package bct owns the BCT token economics: fixed inflation minted per payment period, the
// development fund, rewards by rewardable build time and slashing (SPEC §3). This is the
// skeleton: params, genesis and the params query; minting and rewards come in a later issue.
package bct
