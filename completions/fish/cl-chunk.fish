function __cl-chunk_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-chunk_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __cl-chunk_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-chunk_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __cl-chunk_parse_tokens -S
    set -l unparsed_tokens (__cl-chunk_tokens -pc)
    switch $unparsed_tokens[1]
    case 'cl-chunk'
        __cl-chunk_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'split'
            __cl-chunk_parse_subcommand 0 'size=' 'id=' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'join'
            __cl-chunk_parse_subcommand 0 'max-bytes=' 'progress' 'quiet' 'json-errors' 'version' 'h/help'
        case 'frame'
            __cl-chunk_parse_subcommand 0 'command=' 'counter=' 'key-file=' 'key-env=' 'iv=' 'timestamp=' 'request-chunk=' 'json-errors' 'version' 'h/help'
        case 'unframe'
            __cl-chunk_parse_subcommand 0 'key-file=' 'key-env=' 'max-frame-bytes=' 'max-message-bytes=' 'json-errors' 'version' 'h/help'
        case 'help'
            __cl-chunk_parse_subcommand -r 1 'version'
        end
    end
end

function __cl-chunk_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __cl-chunk_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __cl-chunk_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __cl-chunk_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__cl-chunk_tokens -p)
    if test -z "$(__cl-chunk_tokens -t)"
        set -l index (count (__cl-chunk_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'cl-chunk' -f
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk" version' -l 'version' -d 'Show the version.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_positional "cl-chunk" -eq 1' -fa 'split' -d 'Split stdin into JSON Lines chunks {"id","seq","last","size","sha256","data"}.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_positional "cl-chunk" -eq 1' -fa 'join' -d 'Join JSON Lines chunks from stdin back into the original bytes on stdout.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_positional "cl-chunk" -eq 1' -fa 'frame' -d 'Frame the payload on stdin as one cluster message on stdout.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_positional "cl-chunk" -eq 1' -fa 'unframe' -d 'Decode wire frames on stdin into one JSON line per message.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_positional "cl-chunk" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" size' -l 'size' -d 'Bytes of data per chunk, at most 16777216.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" id' -l 'id' -d 'Stream id written in every chunk (default: random).' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" version' -l 'version' -d 'Show the version.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk split" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk join" max-bytes' -l 'max-bytes' -d 'Refuse a line longer than this (exit 65).' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk join" progress' -l 'progress' -d 'Show progress on stderr even when it is not a terminal.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk join" quiet' -l 'quiet' -d 'Show no progress, and no notes on stderr.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk join" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk join" version' -l 'version' -d 'Show the version.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk join" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" command' -l 'command' -d 'Command name, at most 11 bytes (e.g. hello, echo-c, dapi).' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" counter' -l 'counter' -d 'Message counter, decimal or 0x-hex (default: random).' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" key-file' -l 'key-file' -d 'Read the key from this file: the 32-character cluster key or a 44-character Fernet key.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" key-env' -l 'key-env' -d 'Read the key from this environment variable.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" iv' -l 'iv' -d 'Fixed IV (32 hex digits) for reproducible vectors.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" timestamp' -l 'timestamp' -d 'Fixed Fernet timestamp (Unix seconds) for reproducible vectors.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" request-chunk' -l 'request-chunk' -d 'Division threshold and frame size, as the reference\'s request_chunk.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" version' -l 'version' -d 'Show the version.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk frame" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" key-file' -l 'key-file' -d 'Read the key from this file: the 32-character cluster key or a 44-character Fernet key.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" key-env' -l 'key-env' -d 'Read the key from this environment variable.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" max-frame-bytes' -l 'max-frame-bytes' -d 'Refuse a frame whose payload is larger than this.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" max-message-bytes' -l 'max-message-bytes' -d 'Refuse a reassembled message larger than this.' -rfka ''
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" version' -l 'version' -d 'Show the version.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk unframe" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-chunk' -n '__cl-chunk_should_offer_completions_for_flags_or_options "cl-chunk help" version' -l 'version' -d 'Show the version.'
