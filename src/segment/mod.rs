//! The segment language (lexer, parser, printer) and, later, the engine.
