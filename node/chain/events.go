package chain

import (
	"fmt"
	"reflect"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	gogoproto "github.com/cosmos/gogoproto/proto"
)

// ParseEvent decodes a typed event (emitted with EventManager.EmitTypedEvent,
// sdk.TypedEventToEvent: one attribute per field of the event's protobuf
// message, named by the field's proto name, holding its JSON value) into
// that message, with sdk.ParseTypedEvent. The attributes that are not fields
// of the message are left out first, by the message's own descriptor: BaseApp
// appends plain-text ones to the events it delivers ("mode": "EndBlock" on
// FinalizeBlock's, "msg_index" on a transaction's), which are not JSON and
// would fail the decoding.
func ParseEvent(e abci.Event) (gogoproto.Message, error) {
	fields, err := eventFields(e.Type)
	if err != nil {
		return nil, err
	}
	typed := abci.Event{Type: e.Type, Attributes: make([]abci.EventAttribute, 0, len(e.Attributes))}
	for _, a := range e.Attributes {
		if fields[a.Key] {
			typed.Attributes = append(typed.Attributes, a)
		}
	}
	msg, err := sdk.ParseTypedEvent(typed)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.Type, err)
	}
	return msg, nil
}

// fieldsByType caches the proto field names of each event message type.
var fieldsByType sync.Map // string -> map[string]bool

// eventFields returns the proto names of the fields of the message named
// typeName, as TypedEventToEvent names the attributes.
func eventFields(typeName string) (map[string]bool, error) {
	if f, ok := fieldsByType.Load(typeName); ok {
		return f.(map[string]bool), nil
	}
	t := gogoproto.MessageType(typeName)
	if t == nil {
		return nil, fmt.Errorf("event %s: no protobuf message of that name is registered", typeName)
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := map[string]bool{}
	for _, p := range gogoproto.GetProperties(t).Prop {
		if p.OrigName != "" {
			fields[p.OrigName] = true
		}
	}
	fieldsByType.Store(typeName, fields)
	return fields, nil
}
