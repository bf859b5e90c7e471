"""Everything that defines, trains, exports and evaluates landemu's emulators and transforms."""
