package p2pcli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/node/p2p"
)

// NewIDCmd returns `id`: print the node's libp2p peer ID, creating the
// identity key on first use, so the /ip4/…/tcp/…/p2p/{id} address of a node
// is known before it starts. keyFile says where the node's key lives;
// node/nodecli wires it as `buildchaind node id` with the key of `node run`.
func NewIDCmd(keyFile func(cmd *cobra.Command) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Print this node's libp2p peer ID (creating its key on first use)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := keyFile(cmd)
			if err != nil {
				return err
			}
			id, err := p2p.PeerIDFromKeyFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
}
