"""The Fleet screen: every node's Falco as a row or a tile, a node's detail, its pod's log."""
