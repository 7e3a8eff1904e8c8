"""GeneralFunction specs written in Python that ship with circuits (rc's
rust_circuit.generalfuncs): the text format names them by path, for example
`apply_rotary_pos_emb at rust_circuit.generalfuncs.rotary_pos_emb:ApplyRotaryPosEmb`."""
