print("cl-integrity: not yet built")
