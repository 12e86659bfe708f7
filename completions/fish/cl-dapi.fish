function __cl-dapi_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-dapi_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __cl-dapi_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __cl-dapi_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __cl-dapi_parse_tokens -S
    set -l unparsed_tokens (__cl-dapi_tokens -pc)
    switch $unparsed_tokens[1]
    case 'cl-dapi'
        __cl-dapi_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'call'
            __cl-dapi_parse_subcommand 1 'nodes=' 'all' 'args=' 'type=' 'timeout=' 'wait-for-complete' 'c/config=' 'socket=' 'json-errors' 'version' 'h/help'
        case 'operations'
            __cl-dapi_parse_subcommand 0 'json-errors' 'version' 'h/help'
        case 'help'
            __cl-dapi_parse_subcommand -r 1 'version'
        end
    end
end

function __cl-dapi_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __cl-dapi_parse_subcommand -S -a positional_count
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

function __cl-dapi_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __cl-dapi_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__cl-dapi_tokens -p)
    if test -z "$(__cl-dapi_tokens -t)"
        set -l index (count (__cl-dapi_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'cl-dapi' -f
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi" version' -l 'version' -d 'Show the version.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_positional "cl-dapi" -eq 1' -fa 'call' -d 'Run an operation through the local node and print the merged result (JSON).'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_positional "cl-dapi" -eq 1' -fa 'operations' -d 'List the operations the distributed API runs (JSON).'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_positional "cl-dapi" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_positional "cl-dapi call" -eq 1' -fka 'agents.list agents.summary cluster.config cluster.health cluster.nodes cluster.status integrity.hash node.daemons node.logs node.stats'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" nodes' -l 'nodes' -d 'Ask these nodes only (comma-separated names).' -rfka '(__cl-dapi_custom_completion ---completion call -- --nodes (count (__cl-dapi_tokens -pc)) (__cl-dapi_tokens -tC))'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" all' -l 'all' -d 'Ask every node.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" args' -l 'args' -d 'The operation\'s arguments: a JSON object (f_kwargs).' -rfka ''
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" type' -l 'type' -d 'Request type: local_any, local_master or distributed_master.' -rfka 'local_any local_master distributed_master'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" timeout' -l 'timeout' -d 'Seconds the operation may run on each node (api_timeout; default 10).' -rfka ''
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" wait-for-complete' -l 'wait-for-complete' -d 'No execution deadline (wait_for_complete); the transport timeout still bounds the wait.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" c config' -l 'config' -s 'c' -d 'The node\'s cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" socket' -l 'socket' -d 'Talk to the node through this local socket instead of reading its configuration.' -rF
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" version' -l 'version' -d 'Show the version.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi call" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi operations" json-errors' -l 'json-errors' -d 'Write errors as one JSON line on stderr, even on a terminal (the default when stderr is not a terminal).'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi operations" version' -l 'version' -d 'Show the version.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi operations" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'cl-dapi' -n '__cl-dapi_should_offer_completions_for_flags_or_options "cl-dapi help" version' -l 'version' -d 'Show the version.'
