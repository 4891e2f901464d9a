package app

import "encoding/json"

// GenesisState is the app state of the genesis file: module name to its JSON genesis.
type GenesisState map[string]json.RawMessage
