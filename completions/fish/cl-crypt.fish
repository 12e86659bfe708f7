function __cl-crypt_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-crypt_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __cl-crypt_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-crypt_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __cl-crypt_parse_tokens -S
    set -l unparsed_tokens (__cl-crypt_tokens -pc)
    switch $unparsed_tokens[1]
    case 'cl-crypt'
        __cl-crypt_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'keygen'
            __cl-crypt_parse_subcommand 0 'o/output=' 'group=' 'force' 'json-errors' 'version' 'h/help'
        case 'encrypt'
            __cl-crypt_parse_subcommand 0 'key-file=' 'key-env=' 'iv=' 'timestamp=' 'json-errors' 'version' 'h/help'
        case 'decrypt'
            __cl-crypt_parse_subcommand 0 'key-file=' 'key-env=' 'ttl=' 'now=' 'max-bytes=' 'json-errors' 'version' 'h/help'
        case 'help'
            __cl-crypt_parse_subcommand -r 1 'version'
        end
    end
end

function __cl-crypt_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __cl-crypt_parse_subcommand -S -a positional_count
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

function __cl-crypt_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __cl-crypt_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__cl-crypt_tokens -p)
    if test -z "$(__cl-crypt_tokens -t)"
        set -l index (count (__cl-crypt_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'cl-crypt' -f
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt" version' -l 'version' -d 'Show the version.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_positional "cl-crypt" -eq 1' -fa 'keygen' -d 'Generate a new 32-character cluster key from [A-Za-z0-9_].'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_positional "cl-crypt" -eq 1' -fa 'encrypt' -d 'Encrypt stdin into one Fernet token on stdout.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_positional "cl-crypt" -eq 1' -fa 'decrypt' -d 'Decrypt one Fernet token on stdin; the plaintext goes to stdout.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_positional "cl-crypt" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt keygen" o output' -l 'output' -s 'o' -d 'Write the key to this file (mode 0600) instead of stdout.' -rF
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt keygen" group' -l 'group' -d 'Give the key file to this group, mode 0640, so that a service running as that group can read it.' -rfka '(__cl-crypt_custom_completion ---completion keygen -- --group (count (__cl-crypt_tokens -pc)) (__cl-crypt_tokens -tC))'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt keygen" force' -l 'force' -d 'Overwrite the output file if it exists (without it, an existing file is refused, exit 73).'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt keygen" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt keygen" version' -l 'version' -d 'Show the version.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt keygen" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" key-file' -l 'key-file' -d 'Read the key from this file: the 32-character cluster key or a 44-character Fernet key.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" key-env' -l 'key-env' -d 'Read the key from this environment variable.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" iv' -l 'iv' -d 'Use this IV (32 hex digits) instead of a random one. For reproducible vectors only.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" timestamp' -l 'timestamp' -d 'Use this Unix time in the token instead of now. For reproducible vectors only.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" version' -l 'version' -d 'Show the version.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt encrypt" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" key-file' -l 'key-file' -d 'Read the key from this file: the 32-character cluster key or a 44-character Fernet key.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" key-env' -l 'key-env' -d 'Read the key from this environment variable.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" ttl' -l 'ttl' -d 'Refuse tokens older than this many seconds (the cluster link itself uses no TTL).' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" now' -l 'now' -d 'Take this Unix time as now when checking --ttl. For reproducible vectors only.' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" max-bytes' -l 'max-bytes' -d 'Refuse a token longer than this (exit 65).' -rfka ''
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" version' -l 'version' -d 'Show the version.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt decrypt" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-crypt' -n '__cl-crypt_should_offer_completions_for_flags_or_options "cl-crypt help" version' -l 'version' -d 'Show the version.'
