package chain

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	"github.com/cosmos/cosmos-sdk/types/tx/signing"

	"github.com/buildchain/buildchain/internal/failpoint"
)

// minGas is the least gas a tx is given: small txs vary most in relative terms.
const minGas = 300_000

// Client signs, broadcasts and waits for transactions of one account, and
// runs queries. Broadcasts are serialised and the account sequence is kept
// locally, so that several reports in one block do not collide.
type Client struct {
	ctx client.Context
	txf tx.Factory

	mu       sync.Mutex
	num, seq uint64
	seqKnown bool

	// InclusionTimeout bounds the wait for a broadcast tx to land in a block.
	InclusionTimeout time.Duration
}

// New returns a client for the account clientCtx.FromName/FromAddress. The
// context needs Codec, InterfaceRegistry, TxConfig, Keyring, Client (CometBFT
// RPC), ChainID and AccountRetriever. txf may be the zero Factory: a default
// one (simulated gas ×1.5, direct sign mode, no fees) is made from clientCtx.
func New(clientCtx client.Context, txf *tx.Factory) (*Client, error) {
	if clientCtx.Client == nil {
		return nil, errors.New("chain client: no node RPC client (--node)")
	}
	if clientCtx.TxConfig == nil || clientCtx.Codec == nil {
		return nil, errors.New("chain client: client context lacks codec or tx config")
	}
	var f tx.Factory
	if txf != nil {
		f = *txf
	} else {
		f = tx.Factory{}.
			WithTxConfig(clientCtx.TxConfig).
			WithAccountRetriever(clientCtx.AccountRetriever).
			WithKeybase(clientCtx.Keyring).
			WithChainID(clientCtx.ChainID).
			// Fees are zero on our chains and state may change between the
			// simulation and the block (a report can end a round and start
			// the next), so estimates get a wide margin.
			WithGasAdjustment(2.5).
			WithSimulateAndExecute(true).
			WithSignMode(signing.SignMode_SIGN_MODE_DIRECT)
	}
	f = f.WithFromName(clientCtx.FromName)
	return &Client{ctx: clientCtx, txf: f, InclusionTimeout: 60 * time.Second}, nil
}

// Context is the client context (gRPC queries go through it).
func (c *Client) Context() client.Context { return c.ctx }

// Address is the signing account (bech32).
func (c *Client) Address() string { return c.ctx.FromAddress.String() }

// Broadcast signs msgs as one tx, broadcasts it and waits until a block
// includes it. A tx that fails in CheckTx or in the block is an error naming
// the chain's reason.
func (c *Client) Broadcast(ctx context.Context, msgs ...sdk.Msg) (*abci.ExecTxResult, string, error) {
	hash, err := c.send(ctx, msgs...)
	if err != nil {
		return nil, "", err
	}
	// Sent, not yet in a block: the e2e tests crash a sidecar here (kill -9)
	// to check that a restart asks the chain before sending again.
	failpoint.Hit(SentFailpoint(msgs[0]))
	res, err := c.WaitTx(ctx, hash)
	return res, hash, err
}

func (c *Client) send(ctx context.Context, msgs ...sdk.Msg) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if !c.seqKnown {
			num, seq, err := c.ctx.AccountRetriever.GetAccountNumberSequence(c.ctx, c.ctx.FromAddress)
			if err != nil {
				return "", fmt.Errorf("account %s: %w", c.ctx.FromAddress, err)
			}
			c.num, c.seq, c.seqKnown = num, seq, true
		}
		txf := c.txf.WithAccountNumber(c.num).WithSequence(c.seq)
		if txf.SimulateAndExecute() {
			_, gas, err := tx.CalculateGas(c.ctx, txf, msgs...)
			if err != nil {
				// A stale sequence (another process used the key) fails the
				// simulation. The gRPC error does not carry the SDK's code,
				// so the account is read again rather than the text parsed.
				if attempt == 0 {
					if _, seq, qerr := c.ctx.AccountRetriever.GetAccountNumberSequence(c.ctx, c.ctx.FromAddress); qerr == nil && seq != c.seq {
						c.seq = seq
						continue
					}
				}
				return "", fmt.Errorf("simulate tx: %w", err)
			}
			txf = txf.WithGas(max(gas, minGas))
		}
		txb, err := txf.BuildUnsignedTx(msgs...)
		if err != nil {
			return "", fmt.Errorf("build tx: %w", err)
		}
		if err := tx.Sign(ctx, txf, c.ctx.FromName, txb, true); err != nil {
			return "", fmt.Errorf("sign tx with key %q: %w", c.ctx.FromName, err)
		}
		bz, err := c.ctx.TxConfig.TxEncoder()(txb.GetTx())
		if err != nil {
			return "", fmt.Errorf("encode tx: %w", err)
		}
		res, err := c.ctx.Client.BroadcastTxSync(ctx, bz)
		if err != nil {
			// Unknown whether the node took it: the next tx re-reads the sequence.
			c.seqKnown = false
			return "", fmt.Errorf("broadcast: %w", err)
		}
		if res.Code == sdkerrors.ErrWrongSequence.ABCICode() && res.Codespace == sdkerrors.RootCodespace && attempt == 0 {
			c.seqKnown = false
			continue
		}
		if res.Code != abci.CodeTypeOK {
			return "", fmt.Errorf("tx rejected (%s code %d): %s", res.Codespace, res.Code, res.Log)
		}
		c.seq++
		return strings.ToUpper(hex.EncodeToString(res.Hash)), nil
	}
}

// SentFailpoint names the failpoint (internal/failpoint) between the
// broadcast of a tx whose first message is msg and its inclusion in a block:
// "sent " + the message's type URL.
func SentFailpoint(msg sdk.Msg) string { return "sent " + sdk.MsgTypeURL(msg) }

// WaitTx polls until the tx with hash is in a block; it returns its result,
// or an error if it failed there.
func (c *Client) WaitTx(ctx context.Context, hash string) (*abci.ExecTxResult, error) {
	raw, err := hex.DecodeString(hash)
	if err != nil {
		return nil, fmt.Errorf("tx hash %q: %w", hash, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.InclusionTimeout)
	defer cancel()
	for {
		res, err := c.ctx.Client.Tx(ctx, raw, false)
		if err == nil {
			if res.TxResult.Code != abci.CodeTypeOK {
				return &res.TxResult, fmt.Errorf("tx %s failed in block %d (%s code %d): %s",
					hash, res.Height, res.TxResult.Codespace, res.TxResult.Code, res.TxResult.Log)
			}
			return &res.TxResult, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("tx %s not included: %w (last error: %v)", hash, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
